/**
 * The route table: which endpoint goes to the legacy monolith and which to a new service, and how.
 * The same structure is read from routes.yaml and sent over the admin API.
 *
 *   legacy: http://127.0.0.1:3000        # the monolith: answers everything no route claims
 *   services:
 *     catalog: http://127.0.0.1:3101
 *   routes:
 *     - id: product-detail
 *       methods: [GET]
 *       path: /products/:id
 *       service: catalog
 *       mode: canary                      # legacy | shadow | canary | new
 *       weight: 10                        # canary: percent of keys sent to the service
 *       sticky: { header: x-member-id }   # canary key: a header, a cookie, or the client IP
 *       fallback: true                    # idempotent requests retry on legacy if the service fails
 *       guard: { maxErrorRate: 0.05, maxP99Ms: 800 }
 */
import { z } from 'zod';
import { parseIgnoreRule } from '../shadow/compare.js';

/** How a route sends traffic. */
export const ROUTE_MODES = ['legacy', 'shadow', 'canary', 'new'] as const;
export type RouteMode = (typeof ROUTE_MODES)[number];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

const upstreamUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search
    );
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL with no path, such as http://127.0.0.1:3101');

const pathPattern = z
  .string()
  .regex(
    /^\/(?:[A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*|\*)?(?:\/(?:[A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*|\*))*$/,
    'must be a path such as /products, /products/:id or /static/* (segments of letters, digits and -._~, :name parameters, * only as a whole segment)',
  )
  .refine((value) => !value.startsWith('/_ficus'), '/_ficus/ is reserved for the gateway itself');

const headerCondition = z.object({
  name: z
    .string()
    .min(1)
    .transform((name) => name.toLowerCase()),
  value: z.string().optional(),
});

/** The canary key: the same key always lands on the same side for a given weight. */
export const stickySchema = z.union([
  z
    .object({
      header: z
        .string()
        .min(1)
        .transform((name) => name.toLowerCase()),
    })
    .strict(),
  z.object({ cookie: z.string().min(1) }).strict(),
  z.object({ ip: z.literal(true) }).strict(),
]);
export type Sticky = z.output<typeof stickySchema>;

/** Automatic rollback to `legacy` when the new side misbehaves over a sliding window. */
export const guardSchema = z
  .object({
    maxErrorRate: z.number().min(0).max(1).optional(),
    maxP99Ms: z.number().int().positive().optional(),
    windowSeconds: z.number().int().min(5).max(3600).default(60),
    minRequests: z.number().int().min(1).default(20),
  })
  .strict()
  .refine((guard) => guard.maxErrorRate !== undefined || guard.maxP99Ms !== undefined, {
    message: 'needs maxErrorRate, maxP99Ms or both',
  });
export type Guard = z.output<typeof guardSchema>;

/** What a shadow comparison looks at. */
export const shadowSchema = z
  .object({
    /** Methods mirrored to the service. Only safe methods by default: mirroring a write repeats its side effects. */
    methods: z.array(z.enum(HTTP_METHODS)).min(1).default(['GET', 'HEAD']),
    /** Response headers that must match (lower-case); content-type by default. */
    headers: z
      .array(
        z
          .string()
          .min(1)
          .transform((h) => h.toLowerCase()),
      )
      .default(['content-type']),
    /** JSON paths whose values are ignored, e.g. `updatedAt`, `items[*].id`, `**.requestId`. */
    ignore: z
      .array(
        z.string().superRefine((rule, context) => {
          try {
            parseIgnoreRule(rule);
          } catch (error) {
            context.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }),
      )
      .default([]),

    /** Share of requests mirrored, 0–1. */
    sampleRate: z.number().min(0).max(1).default(1),
  })
  .strict();
export type ShadowOptions = z.output<typeof shadowSchema>;

export const routeSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1–63 lower-case letters, digits and dashes'),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    path: pathPattern,
    header: headerCondition.optional(),
    cookie: headerCondition.optional(),
    service: z.string().min(1).optional(),
    mode: z.enum(ROUTE_MODES).default('legacy'),
    weight: z.number().min(0).max(100).default(0),
    sticky: stickySchema.default({ ip: true }),
    fallback: z.boolean().default(false),
    timeoutMs: z.number().int().min(1).max(600_000).default(30_000),
    shadow: shadowSchema.default(shadowSchema.parse({})),
    guard: guardSchema.optional(),
  })
  .strict();
export type Route = z.output<typeof routeSchema>;
export type RouteInput = z.input<typeof routeSchema>;

export const routeTableSchema = z
  .object({
    legacy: upstreamUrl,
    services: z
      .record(
        z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]*$/, 'service names are lower-case letters, digits and dashes'),
        upstreamUrl,
      )
      .default({}),
    routes: z.array(routeSchema).default([]),
  })
  .strict()
  .superRefine((table, context) => {
    const seen = new Set<string>();
    table.routes.forEach((route, index) => {
      const at = (field: string) => ['routes', index, field];
      if (seen.has(route.id)) {
        context.addIssue({
          code: 'custom',
          path: at('id'),
          message: `route id ${route.id} is used twice`,
        });
      }
      seen.add(route.id);
      if (route.mode !== 'legacy' && !route.service) {
        context.addIssue({
          code: 'custom',
          path: at('service'),
          message: `mode ${route.mode} needs a service`,
        });
      }
      if (route.service && !(route.service in table.services)) {
        const known = Object.keys(table.services);
        context.addIssue({
          code: 'custom',
          path: at('service'),
          message: `unknown service ${route.service}; services are ${known.length ? known.join(', ') : 'none (add them under services:)'}`,
        });
      }
    });
  });

/** A validated route table. */
export type RouteTable = z.output<typeof routeTableSchema>;
export type RouteTableInput = z.input<typeof routeTableSchema>;
