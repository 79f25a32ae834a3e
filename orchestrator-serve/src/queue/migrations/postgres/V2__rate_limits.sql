-- The forge's rate-limit budget as the replicas last saw it, one row per token (`bucket` is a
-- digest of the API URL and token, never the token): replicas that share a token share it.
CREATE TABLE serve_rate_limits (
    bucket    TEXT PRIMARY KEY,
    remaining BIGINT NOT NULL,
    reset     BIGINT NOT NULL,
    replica   TEXT NOT NULL,
    updated   BIGINT NOT NULL
);
