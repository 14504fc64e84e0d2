"""Everything from landing to the decision, free of Dagster: the landing scan (`landing`), checking
one return on the Pandera or the bulk path (`check`), the ledger of versions and what is in force
(`ledger`), what to read again (`plan`) and the counties' explanations (`explanations`).  It reads
landing; the warehouse never does."""
