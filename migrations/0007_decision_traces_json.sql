ALTER TABLE "routing_decisions" ALTER COLUMN "assignments" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "routing_decisions" ALTER COLUMN "parked" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "routing_decisions" ALTER COLUMN "trace" SET DATA TYPE json;