ALTER TABLE "reservations" DROP CONSTRAINT "reservations_variant_id_variants_id_fk";
--> statement-breakpoint
ALTER TABLE "reservations" DROP CONSTRAINT "reservations_facility_id_facilities_id_fk";
--> statement-breakpoint
ALTER TABLE "order_lines" DROP CONSTRAINT "order_lines_facility_id_facilities_id_fk";
--> statement-breakpoint
DROP INDEX "reservations_line";--> statement-breakpoint
DROP INDEX "order_lines_open_variant";--> statement-breakpoint
CREATE INDEX "order_lines_waiting_variant" ON "order_lines" USING btree ("variant_id") WHERE status IN ('created','approved','rejected','unfillable');--> statement-breakpoint
CREATE INDEX "order_lines_waiting" ON "order_lines" USING btree ("order_id") WHERE status IN ('created','approved','rejected','unfillable');