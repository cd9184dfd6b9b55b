DROP TABLE {s}.waybills_v2;
