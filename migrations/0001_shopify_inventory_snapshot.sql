CREATE TABLE "shopify_inventory_snapshot" (
	"shopify_inventory_item_id" text NOT NULL,
	"shopify_location_id" text NOT NULL,
	"available" integer NOT NULL,
	"on_hand" integer NOT NULL,
	"committed" integer NOT NULL,
	"snapshot_at" timestamp with time zone NOT NULL,
	CONSTRAINT "shopify_inventory_snapshot_shopify_inventory_item_id_shopify_location_id_pk" PRIMARY KEY("shopify_inventory_item_id","shopify_location_id")
);
