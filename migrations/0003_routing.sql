CREATE TABLE "facility_capacity_usage" (
	"facility_id" bigint NOT NULL,
	"local_date" date NOT NULL,
	"orders" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "facility_capacity_usage_facility_id_local_date_pk" PRIMARY KEY("facility_id","local_date")
);
--> statement-breakpoint
CREATE TABLE "rejection_reasons" (
	"code" text PRIMARY KEY NOT NULL,
	"label" text NOT NULL,
	"stock_effect" text NOT NULL,
	"collateral" boolean DEFAULT false NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"version_id" bigint,
	"run_code" text NOT NULL,
	"routing" text NOT NULL,
	"trigger" text NOT NULL,
	"summary" text NOT NULL,
	"assignments" jsonb NOT NULL,
	"parked" jsonb NOT NULL,
	"trace" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing_rule_versions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"document" jsonb NOT NULL,
	"note" text,
	"based_on_id" bigint,
	"created_by" text DEFAULT 'api' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	"archived_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "routing_run_slots" (
	"run_code" text PRIMARY KEY NOT NULL,
	"last_slot_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "held" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "excluded_facility_ids" bigint[] DEFAULT '{}'::bigint[] NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "transfer_to_facility_id" bigint;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "brokered_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "facility_capacity_usage" ADD CONSTRAINT "facility_capacity_usage_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routing_decisions" ADD CONSTRAINT "routing_decisions_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "routing_decisions_order" ON "routing_decisions" USING btree ("order_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "routing_rule_versions_one_active" ON "routing_rule_versions" USING btree ("status") WHERE status = 'active';--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_transfer_to_facility_id_facilities_id_fk" FOREIGN KEY ("transfer_to_facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;