-- transfers_by_from_account and transfers_by_to_account were written on every transfer and read
-- by no query: API.md has no list of transfers, a statement reads entries by account (indexed,
-- newest first) and reaches a transfer by its primary key, and accounts are never deleted (so
-- the foreign keys never search transfers by account). Measured with scripts/bench: dropping
-- them is worth about a tenth of the journal's throughput (bench/results.md).
DROP INDEX transfers_by_from_account;
DROP INDEX transfers_by_to_account;
