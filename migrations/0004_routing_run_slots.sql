CREATE TABLE "routing_run_slots" (
	"run_code" text PRIMARY KEY NOT NULL,
	"last_slot_at" timestamp with time zone NOT NULL
);
