-- Requests per access key and one-second window (epoch ms of its start): the API's rate limit,
-- shared by every replica.
CREATE TABLE request_counts (
    key_id       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (key_id, window_start)
);
