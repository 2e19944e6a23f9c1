ALTER TABLE "webhook_inbox" ADD COLUMN "body_sha256" text;--> statement-breakpoint
ALTER TABLE "routing_replays" ADD COLUMN "leased_until" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_inbox_topic_body" ON "webhook_inbox" USING btree ("topic","body_sha256");