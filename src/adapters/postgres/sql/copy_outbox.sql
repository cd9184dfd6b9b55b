COPY {s}.outbox (key, order_id, effect, written_at) FROM STDIN (FORMAT binary)
