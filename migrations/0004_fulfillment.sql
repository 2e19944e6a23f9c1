CREATE TABLE "fulfillment_push_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"push_id" bigint NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	"request" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"response" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fulfillment_pushes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shipment_id" bigint NOT NULL,
	"order_id" bigint NOT NULL,
	"action" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"notify_customer" boolean DEFAULT true NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"leased_until" timestamp with time zone,
	"fulfillments_before" text[] DEFAULT '{}'::text[] NOT NULL,
	"shopify_fulfillment_id" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"confirmed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "fulfillment_sync" (
	"order_id" bigint PRIMARY KEY NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"due_at" timestamp with time zone DEFAULT now() NOT NULL,
	"check" boolean DEFAULT false NOT NULL,
	"leased_until" timestamp with time zone,
	"leased_by" text
);
--> statement-breakpoint
CREATE TABLE "shipment_lines" (
	"shipment_id" bigint NOT NULL,
	"order_line_id" bigint NOT NULL,
	"quantity" integer NOT NULL,
	CONSTRAINT "shipment_lines_shipment_id_order_line_id_pk" PRIMARY KEY("shipment_id","order_line_id")
);
--> statement-breakpoint
CREATE TABLE "shipments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"source" text DEFAULT 'store' NOT NULL,
	"packages" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"carrier" text,
	"tracking_number" text,
	"tracking_url" text,
	"handed_over_to" text,
	"completed_at" timestamp with time zone,
	"ready_at" timestamp with time zone,
	"put_back" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"expiry_requested_at" timestamp with time zone,
	"shopify_fulfillment_id" text,
	"created_by" text DEFAULT 'api' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "shipped_quantity" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "shopify_fulfilled_quantity" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "shopify_fulfillment_facility_id" bigint;--> statement-breakpoint
ALTER TABLE "fulfillment_push_log" ADD CONSTRAINT "fulfillment_push_log_push_id_fulfillment_pushes_id_fk" FOREIGN KEY ("push_id") REFERENCES "public"."fulfillment_pushes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fulfillment_pushes" ADD CONSTRAINT "fulfillment_pushes_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fulfillment_pushes" ADD CONSTRAINT "fulfillment_pushes_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fulfillment_sync" ADD CONSTRAINT "fulfillment_sync_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipment_lines" ADD CONSTRAINT "shipment_lines_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipment_lines" ADD CONSTRAINT "shipment_lines_order_line_id_order_lines_id_fk" FOREIGN KEY ("order_line_id") REFERENCES "public"."order_lines"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipments" ADD CONSTRAINT "shipments_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipments" ADD CONSTRAINT "shipments_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "fulfillment_push_log_push" ON "fulfillment_push_log" USING btree ("push_id");--> statement-breakpoint
CREATE UNIQUE INDEX "fulfillment_pushes_shipment_action" ON "fulfillment_pushes" USING btree ("shipment_id","action");--> statement-breakpoint
CREATE INDEX "fulfillment_pushes_due" ON "fulfillment_pushes" USING btree ("status","next_attempt_at") WHERE status in ('pending', 'sending');--> statement-breakpoint
CREATE INDEX "fulfillment_pushes_order" ON "fulfillment_pushes" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "shipment_lines_line" ON "shipment_lines" USING btree ("order_line_id");--> statement-breakpoint
CREATE INDEX "shipments_facility_status" ON "shipments" USING btree ("facility_id","status");--> statement-breakpoint
CREATE INDEX "shipments_order" ON "shipments" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "shipments_shopify_fulfillment" ON "shipments" USING btree ("shopify_fulfillment_id");--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_shopify_fulfillment_facility_id_facilities_id_fk" FOREIGN KEY ("shopify_fulfillment_facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Orders Shopify already shows fulfilled: their units are no longer committed there.
UPDATE "order_lines" SET "shopify_fulfilled_quantity" = "current_quantity" FROM "orders" WHERE "orders"."id" = "order_lines"."order_id" AND "orders"."fulfillment_status" = 'FULFILLED';
