DROP TABLE waybills_v2;
