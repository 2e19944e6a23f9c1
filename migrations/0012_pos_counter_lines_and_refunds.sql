CREATE TABLE "order_refund_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"order_line_id" bigint NOT NULL,
	"shopify_refund_id" text NOT NULL,
	"shopify_refund_line_id" text NOT NULL,
	"quantity" integer NOT NULL,
	"restock_type" text NOT NULL,
	"shopify_location_id" text,
	"facility_id" bigint,
	"refunded_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "shopify_inventory_snapshot" ADD COLUMN "base_level_updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "sold_over_counter" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "order_refund_lines" ADD CONSTRAINT "order_refund_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_refund_lines" ADD CONSTRAINT "order_refund_lines_order_line_id_order_lines_id_fk" FOREIGN KEY ("order_line_id") REFERENCES "public"."order_lines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_refund_lines" ADD CONSTRAINT "order_refund_lines_facility_id_facilities_id_fk" FOREIGN KEY ("facility_id") REFERENCES "public"."facilities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "order_refund_lines_shopify_id" ON "order_refund_lines" USING btree ("shopify_refund_line_id");--> statement-breakpoint
CREATE INDEX "order_refund_lines_line" ON "order_refund_lines" USING btree ("order_line_id");--> statement-breakpoint
-- Until now every line of a POS order was taken for a counter sale (its sale booked, never routed):
-- existing lines keep that meaning. The next read of an order from Shopify sets each line from its
-- fulfilment orders (a POS line shipped to the customer becomes routable then).
UPDATE "order_lines" SET "sold_over_counter" = true FROM "orders" WHERE "orders"."id" = "order_lines"."order_id" AND "orders"."source_name" = 'pos';
