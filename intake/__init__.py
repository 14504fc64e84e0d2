"""Everything from landing to the decision, free of Dagster: the landing scan (`landing`), the ledger
of versions and what is in force (`ledger`).  It reads landing; the warehouse never does."""
