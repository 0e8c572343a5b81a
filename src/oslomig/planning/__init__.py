"""The database side of the migration: co-migration groups, window occurrences, the scheduler, its independent
verifier, owner notices, coordination between plans, and edits of the plan file (the loop)."""
