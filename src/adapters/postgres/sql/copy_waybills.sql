COPY {s}.waybills (carrier, waybill, order_id) FROM STDIN (FORMAT binary)
