"""The prediction log: every served prediction, in Parquet objects indexed by deployment
and hour. Serving appends to it; monitoring reads windows of it."""
