CREATE TABLE "job_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_name" text NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"queue_job_id" text,
	"worker_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"progress" jsonb,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "job_schedules" (
	"job_name" text PRIMARY KEY NOT NULL,
	"schedule" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"last_slot_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"aggregate_type" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"idempotency_key" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "shops" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"domain" text NOT NULL,
	"name" text,
	"api_version" text NOT NULL,
	"status" text DEFAULT 'connecting' NOT NULL,
	"scopes" text[] DEFAULT '{}' NOT NULL,
	"currency_code" text,
	"iana_timezone" text,
	"connected_at" timestamp with time zone,
	"sync_state" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "shops_domain_unique" UNIQUE("domain")
);
--> statement-breakpoint
CREATE TABLE "webhook_inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"webhook_id" text NOT NULL,
	"event_id" text,
	"shop_domain" text NOT NULL,
	"topic" text NOT NULL,
	"api_version" text,
	"triggered_at" timestamp with time zone,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"raw_body" text NOT NULL,
	"payload" jsonb NOT NULL,
	"resource_updated_at" timestamp with time zone,
	"hmac_verified" boolean NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shopify_product_id" text NOT NULL,
	"handle" text,
	"title" text NOT NULL,
	"status" text DEFAULT 'ACTIVE' NOT NULL,
	"vendor" text,
	"product_type" text,
	"tags" text[] DEFAULT '{}' NOT NULL,
	"image_url" text,
	"is_placeholder" boolean DEFAULT false NOT NULL,
	"shopify_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "variants" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"product_id" bigint NOT NULL,
	"shopify_variant_id" text NOT NULL,
	"shopify_inventory_item_id" text,
	"sku" text,
	"barcode" text,
	"title" text NOT NULL,
	"price" numeric(14, 2),
	"weight_grams" integer,
	"inventory_policy" text DEFAULT 'DENY' NOT NULL,
	"image_url" text,
	"is_placeholder" boolean DEFAULT false NOT NULL,
	"shopify_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "facilities" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"queue_kind" text,
	"address" jsonb,
	"latitude" double precision,
	"longitude" double precision,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"opening_hours" jsonb,
	"can_ship" boolean DEFAULT false NOT NULL,
	"can_pickup" boolean DEFAULT false NOT NULL,
	"can_express" boolean DEFAULT false NOT NULL,
	"daily_order_capacity" integer,
	"brokering_priority" integer DEFAULT 0 NOT NULL,
	"brokering_enabled" boolean DEFAULT true NOT NULL,
	"excluded_from_online_atp" boolean DEFAULT false NOT NULL,
	"default_safety_stock" integer DEFAULT 0 NOT NULL,
	"shopify_location_id" text,
	"publish_mode" text DEFAULT 'none' NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "facility_group_members" (
	"group_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"sequence" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "facility_group_members_group_id_facility_id_pk" PRIMARY KEY("group_id","facility_id")
);
--> statement-breakpoint
CREATE TABLE "facility_groups" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"purpose" text,
	"channel_threshold" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "facility_groups_code_unique" UNIQUE("code")
);
--> statement-breakpoint
CREATE TABLE "inventory_ledger" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"variant_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"delta" integer NOT NULL,
	"kind" text NOT NULL,
	"reference_type" text,
	"reference_id" text,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "inventory_levels" (
	"variant_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"on_hand" integer DEFAULT 0 NOT NULL,
	"reserved" integer DEFAULT 0 NOT NULL,
	"safety_stock" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inventory_levels_variant_id_facility_id_pk" PRIMARY KEY("variant_id","facility_id"),
	CONSTRAINT "inventory_levels_reserved_nonnegative" CHECK (reserved >= 0)
);
--> statement-breakpoint
CREATE TABLE "reservations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_line_id" bigint NOT NULL,
	"variant_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"quantity" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone,
	"close_reason" text,
	CONSTRAINT "reservations_quantity_positive" CHECK (quantity > 0)
);
--> statement-breakpoint
CREATE TABLE "order_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"source" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "order_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"shopify_line_item_id" text NOT NULL,
	"variant_id" bigint,
	"sku" text,
	"title" text NOT NULL,
	"quantity" integer NOT NULL,
	"current_quantity" integer NOT NULL,
	"unit_price" numeric(14, 2),
	"status" text DEFAULT 'created' NOT NULL,
	"facility_id" bigint,
	"group_key" text,
	"auto_cancel_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shopify_order_id" text NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'created' NOT NULL,
	"source_name" text,
	"financial_status" text,
	"fulfillment_status" text,
	"cancelled_at" timestamp with time zone,
	"cancel_reason" text,
	"customer" jsonb,
	"shipping_address" jsonb,
	"latitude" double precision,
	"longitude" double precision,
	"shipping_method" text DEFAULT 'standard' NOT NULL,
	"shipping_line_title" text,
	"pickup_facility_id" bigint,
	"tags" text[] DEFAULT '{}' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"promise_date" timestamp with time zone,
	"currency_code" text,
	"total_price" numeric(14, 2),
	"shopify_created_at" timestamp with time zone NOT NULL,
	"shopify_updated_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "variants" ADD CONSTRAINT "variants_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "facility_group_members" ADD CONSTRAINT "facility_group_members_group_id_facility_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."facility_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "facility_group_members" ADD CONSTRAINT "facility_group_members_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_ledger" ADD CONSTRAINT "inventory_ledger_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_ledger" ADD CONSTRAINT "inventory_ledger_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_levels" ADD CONSTRAINT "inventory_levels_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_levels" ADD CONSTRAINT "inventory_levels_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_order_line_id_order_lines_id_fk" FOREIGN KEY ("order_line_id") REFERENCES "public"."order_lines"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_history" ADD CONSTRAINT "order_history_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_pickup_facility_id_facilities_id_fk" FOREIGN KEY ("pickup_facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "job_runs_one_running" ON "job_runs" USING btree ("job_name") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "job_runs_by_job" ON "job_runs" USING btree ("job_name","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_idempotency" ON "outbox" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "outbox_pending" ON "outbox" USING btree ("available_at") WHERE status = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_inbox_webhook_id" ON "webhook_inbox" USING btree ("webhook_id");--> statement-breakpoint
CREATE INDEX "webhook_inbox_pending" ON "webhook_inbox" USING btree ("next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "products_shopify_id" ON "products" USING btree ("shopify_product_id");--> statement-breakpoint
CREATE UNIQUE INDEX "variants_shopify_id" ON "variants" USING btree ("shopify_variant_id");--> statement-breakpoint
CREATE INDEX "variants_sku" ON "variants" USING btree ("sku");--> statement-breakpoint
CREATE INDEX "variants_barcode" ON "variants" USING btree ("barcode");--> statement-breakpoint
CREATE INDEX "variants_inventory_item" ON "variants" USING btree ("shopify_inventory_item_id");--> statement-breakpoint
CREATE UNIQUE INDEX "facilities_code" ON "facilities" USING btree ("code");--> statement-breakpoint
CREATE UNIQUE INDEX "facilities_shopify_location" ON "facilities" USING btree ("shopify_location_id") WHERE shopify_location_id IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "facilities_one_per_queue_kind" ON "facilities" USING btree ("queue_kind") WHERE queue_kind IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "inventory_ledger_idempotency" ON "inventory_ledger" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "inventory_ledger_item_time" ON "inventory_ledger" USING btree ("variant_id","facility_id","occurred_at");--> statement-breakpoint
CREATE INDEX "reservations_line" ON "reservations" USING btree ("order_line_id");--> statement-breakpoint
CREATE UNIQUE INDEX "reservations_one_active_per_line_facility" ON "reservations" USING btree ("order_line_id","facility_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "order_history_order" ON "order_history" USING btree ("order_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "order_lines_shopify_id" ON "order_lines" USING btree ("shopify_line_item_id");--> statement-breakpoint
CREATE INDEX "order_lines_order" ON "order_lines" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "order_lines_facility_status" ON "order_lines" USING btree ("facility_id","status");--> statement-breakpoint
CREATE INDEX "order_lines_open_variant" ON "order_lines" USING btree ("variant_id") WHERE status NOT IN ('shipped','picked_up','cancelled');--> statement-breakpoint
CREATE UNIQUE INDEX "orders_shopify_id" ON "orders" USING btree ("shopify_order_id");--> statement-breakpoint
CREATE INDEX "orders_status" ON "orders" USING btree ("status");--> statement-breakpoint
CREATE INDEX "orders_shopify_updated" ON "orders" USING btree ("shopify_updated_at");