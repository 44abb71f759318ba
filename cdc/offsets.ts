/**
 * The connector's own progress, kept in a small JSON file beside the slot's position in Postgres:
 * whether the initial snapshot finished, and how far a running incremental snapshot has got. (Where
 * streaming resumes is the slot's confirmed position, kept by Postgres itself.) Written atomically:
 * a temporary file, fsync, rename.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CdcSetupError } from './errors.js';

const offsetsSchema = z.object({
  version: z.literal(1),
  slot: z.string(),
  snapshotCompleted: z.boolean(),
  incrementalSnapshot: z
    .object({
      queue: z.array(z.object({ table: z.string(), signal: z.string() }).readonly()).readonly(),
      current: z
        .object({
          table: z.string(),
          signal: z.string(),
          lastKey: z.array(z.string()).readonly().nullable(),
          maxKey: z.array(z.string()).readonly(),
          rows: z.number(),
          chunks: z.number(),
        })
        .readonly()
        .nullable(),
      handledSignals: z.array(z.string()).readonly(),
    })
    .readonly()
    .optional(),
  updatedAt: z.string(),
});

/** What the offsets file holds. */
export type Offsets = z.output<typeof offsetsSchema>;

/** Reads the offsets file; undefined when there is none yet. */
export async function readOffsets(file: string): Promise<Offsets | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = offsetsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new CdcSetupError(
      'FICUS_CDC_OFFSETS_INVALID',
      `offsets file ${file} is not a ficus offsets file (${parsed.error.issues[0]?.message ?? 'invalid'}); move it away to start afresh`,
    );
  }
  return parsed.data;
}

/** Replaces the offsets file atomically and durably. */
export async function writeOffsets(
  file: string,
  offsets: Omit<Offsets, 'version' | 'updatedAt'>,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(
      JSON.stringify({ version: 1, ...offsets, updatedAt: new Date().toISOString() }, null, 2),
    );
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const directory = await open(path.dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
