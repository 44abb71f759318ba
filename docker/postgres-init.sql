-- Run once, when the Postgres container initialises its data directory: a database of its own
-- for each extracted service (the monolith's is POSTGRES_DB, "legacy").
CREATE DATABASE catalog;
CREATE DATABASE reviews;
CREATE DATABASE notifications;
