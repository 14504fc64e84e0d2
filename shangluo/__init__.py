"""Shangluo rural-revitalisation returns: from county returns to the published figures."""
