INSERT INTO meta (key, value) VALUES ('data_epoch', 0);
