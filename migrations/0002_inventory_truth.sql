CREATE TABLE "inventory_publish_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"method" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"outcome" text NOT NULL,
	"quantities" jsonb NOT NULL,
	"response" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inventory_sync_differences" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"shopify_inventory_item_id" text NOT NULL,
	"shopify_location_id" text NOT NULL,
	"expected" integer NOT NULL,
	"found" integer NOT NULL,
	"cause" text NOT NULL,
	"action" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inventory_count_marks" (
	"variant_id" bigint NOT NULL,
	"facility_id" bigint NOT NULL,
	"counted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "inventory_count_marks_variant_id_facility_id_pk" PRIMARY KEY("variant_id","facility_id")
);
--> statement-breakpoint
CREATE TABLE "inventory_import_rows" (
	"import_id" bigint NOT NULL,
	"line" integer NOT NULL,
	"facility_id" bigint NOT NULL,
	"variant_id" bigint NOT NULL,
	"quantity" integer NOT NULL,
	"counted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "inventory_import_rows_import_id_line_pk" PRIMARY KEY("import_id","line")
);
--> statement-breakpoint
CREATE TABLE "inventory_imports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"file_name" text NOT NULL,
	"file_sha256" text NOT NULL,
	"format" text NOT NULL,
	"source" text NOT NULL,
	"per_row" integer DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"rows_total" integer DEFAULT 0 NOT NULL,
	"rows_valid" integer DEFAULT 0 NOT NULL,
	"rows_applied" integer DEFAULT 0 NOT NULL,
	"entries_written" integer DEFAULT 0 NOT NULL,
	"error_count" integer DEFAULT 0 NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "inventory_publish_queue" (
	"variant_id" bigint PRIMARY KEY NOT NULL,
	"changed_at" timestamp with time zone NOT NULL,
	"leased_until" timestamp with time zone,
	"needs_read" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "safety_stock_rules" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tag" text NOT NULL,
	"facility_id" bigint,
	"quantity" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "safety_stock_rules_quantity_nonnegative" CHECK (quantity >= 0)
);
--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "last_published_quantity" integer;--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "last_published_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "base_on_hand" integer;--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "base_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "unexplained_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inventory_count_marks" ADD CONSTRAINT "inventory_count_marks_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_count_marks" ADD CONSTRAINT "inventory_count_marks_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_import_rows" ADD CONSTRAINT "inventory_import_rows_import_id_inventory_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."inventory_imports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_publish_queue" ADD CONSTRAINT "inventory_publish_queue_variant_id_variants_id_fk" FOREIGN KEY ("variant_id") REFERENCES "public"."variants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "safety_stock_rules" ADD CONSTRAINT "safety_stock_rules_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "inventory_publish_log_at" ON "inventory_publish_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "inventory_sync_differences_at" ON "inventory_sync_differences" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "safety_stock_rules_tag_facility" ON "safety_stock_rules" USING btree ("tag",coalesce("facility_id", 0));