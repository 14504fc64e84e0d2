"""Publication: the report regenerated from the warehouse, vintages, and the clerks' templates."""
