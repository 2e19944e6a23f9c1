CREATE TABLE "shopify_credentials" (
	"shop" text PRIMARY KEY NOT NULL,
	"grant" text NOT NULL,
	"access_token" text,
	"access_expires_at" timestamp with time zone,
	"refresh_token" text,
	"refresh_expires_at" timestamp with time zone,
	"scope" text,
	"generation" integer DEFAULT 0 NOT NULL,
	"renewed_at" timestamp with time zone,
	"renewing_by" text,
	"renewing_until" timestamp with time zone,
	"failure" jsonb,
	"next_attempt_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shopify_oauth_states" (
	"state" text PRIMARY KEY NOT NULL,
	"shop" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
