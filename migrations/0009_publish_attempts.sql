ALTER TABLE "inventory_publish_log" ADD COLUMN "holder" text;--> statement-breakpoint
ALTER TABLE "shipments" ADD COLUMN "expiry_sent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inventory_publish_queue" ADD COLUMN "leased_by" text;--> statement-breakpoint
CREATE INDEX "inventory_publish_log_sending" ON "inventory_publish_log" USING btree ("id") WHERE outcome = 'sending';