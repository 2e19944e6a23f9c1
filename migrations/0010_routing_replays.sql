CREATE TABLE "routing_replays" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"input" jsonb NOT NULL,
	"orders" integer NOT NULL,
	"progress" jsonb,
	"result" jsonb,
	"error" text,
	"requested_by" text DEFAULT 'api' NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "routing_replays_waiting" ON "routing_replays" USING btree ("id") WHERE status in ('queued', 'running');