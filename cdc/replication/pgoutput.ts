/**
 * Decoder for the messages of Postgres's built-in `pgoutput` logical decoding plugin, protocol
 * version 1 (every supported Postgres speaks it; transactions arrive whole, at commit).
 *
 * Spec: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 *
 * Column values stay in Postgres's text output format; cdc/events/ turns them into Debezium's
 * JSON values, which needs the column's type (from the Relation message).
 */
import type { Lsn } from './lsn.js';

/** A column value whose TOASTed old content Postgres did not send because it did not change. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/** One column of a tuple: text output, SQL NULL, or the unchanged-TOAST marker. */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

/** What `REPLICA IDENTITY` a table has (pg_class.relreplident). */
export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

/** A column as described by a Relation message. */
export interface RelationColumn {
  readonly name: string;
  /** Part of the replica identity key (the primary key under REPLICA IDENTITY DEFAULT). */
  readonly isKey: boolean;
  readonly typeOid: number;
  readonly typeModifier: number;
}

/** A table's shape, sent before its first change in a session and again after it changes. */
export interface Relation {
  readonly id: number;
  readonly schema: string;
  readonly table: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
}

export interface BeginMessage {
  readonly tag: 'begin';
  /** LSN of the commit record. */
  readonly finalLsn: Lsn;
  /** Commit time, microseconds since the Unix epoch. */
  readonly commitTimeUs: bigint;
  readonly xid: number;
}

export interface CommitMessage {
  readonly tag: 'commit';
  readonly commitLsn: Lsn;
  /** End of the commit record: the position to confirm once the transaction is delivered. */
  readonly endLsn: Lsn;
  readonly commitTimeUs: bigint;
}

export interface OriginMessage {
  readonly tag: 'origin';
  readonly originLsn: Lsn;
  readonly name: string;
}

export interface RelationMessage {
  readonly tag: 'relation';
  readonly relation: Relation;
}

export interface TypeMessage {
  readonly tag: 'type';
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
}

export interface InsertMessage {
  readonly tag: 'insert';
  readonly relationId: number;
  readonly after: readonly TupleValue[];
}

export interface UpdateMessage {
  readonly tag: 'update';
  readonly relationId: number;
  /** The old row: only key columns ('K', when the key changed) or all columns ('O', REPLICA IDENTITY FULL). */
  readonly before: readonly TupleValue[] | undefined;
  readonly beforeKind: 'key' | 'full' | undefined;
  readonly after: readonly TupleValue[];
}

export interface DeleteMessage {
  readonly tag: 'delete';
  readonly relationId: number;
  readonly before: readonly TupleValue[];
  readonly beforeKind: 'key' | 'full';
}

export interface TruncateMessage {
  readonly tag: 'truncate';
  readonly relationIds: readonly number[];
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
}

export interface LogicalMessage {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Buffer;
}

/** Every pgoutput message, discriminated by `tag`. */
export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

/** Row changes: the messages that become change events. */
export type ChangeMessage = InsertMessage | UpdateMessage | DeleteMessage;

/** True for insert, update and delete messages. */
export function isChangeMessage(message: PgoutputMessage): message is ChangeMessage {
  return message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete';
}

/** Microseconds between the Unix epoch and Postgres's epoch (2000-01-01). */
const POSTGRES_EPOCH_US = 946_684_800_000_000n;

const REPLICA_IDENTITY: Record<string, ReplicaIdentity> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

/** The message could not be decoded: a protocol mismatch or a truncated buffer. */
export class PgoutputDecodeError extends Error {
  readonly code = 'FICUS_CDC_DECODE';
}

/** Decodes one pgoutput message (the payload of an XLogData frame). */
export function decodePgoutput(buffer: Buffer): PgoutputMessage {
  const reader = new Reader(buffer);
  const tag = reader.byte();
  switch (tag) {
    case 0x42 /* B */:
      return {
        tag: 'begin',
        finalLsn: reader.uint64(),
        commitTimeUs: reader.int64() + POSTGRES_EPOCH_US,
        xid: reader.uint32(),
      };
    case 0x43 /* C */: {
      reader.byte(); // flags, unused
      return {
        tag: 'commit',
        commitLsn: reader.uint64(),
        endLsn: reader.uint64(),
        commitTimeUs: reader.int64() + POSTGRES_EPOCH_US,
      };
    }
    case 0x4f /* O */:
      return { tag: 'origin', originLsn: reader.uint64(), name: reader.cstring() };
    case 0x52 /* R */:
      return { tag: 'relation', relation: readRelation(reader) };
    case 0x59 /* Y */:
      return {
        tag: 'type',
        oid: reader.uint32(),
        schema: reader.cstring(),
        name: reader.cstring(),
      };
    case 0x49 /* I */: {
      const relationId = reader.uint32();
      reader.expect(0x4e /* N */);
      return { tag: 'insert', relationId, after: readTuple(reader) };
    }
    case 0x55 /* U */: {
      const relationId = reader.uint32();
      let kind = reader.byte();
      let before: TupleValue[] | undefined;
      let beforeKind: 'key' | 'full' | undefined;
      if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
        beforeKind = kind === 0x4b ? 'key' : 'full';
        before = readTuple(reader);
        kind = reader.byte();
      }
      if (kind !== 0x4e /* N */) throw new PgoutputDecodeError(`update: expected 'N', got ${kind}`);
      return { tag: 'update', relationId, before, beforeKind, after: readTuple(reader) };
    }
    case 0x44 /* D */: {
      const relationId = reader.uint32();
      const kind = reader.byte();
      if (kind !== 0x4b && kind !== 0x4f)
        throw new PgoutputDecodeError(`delete: expected 'K' or 'O', got ${kind}`);
      return {
        tag: 'delete',
        relationId,
        beforeKind: kind === 0x4b ? 'key' : 'full',
        before: readTuple(reader),
      };
    }
    case 0x54 /* T */: {
      const count = reader.uint32();
      const options = reader.byte();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(reader.uint32());
      return {
        tag: 'truncate',
        relationIds,
        cascade: (options & 1) !== 0,
        restartIdentity: (options & 2) !== 0,
      };
    }
    case 0x4d /* M */: {
      const flags = reader.byte();
      const lsn = reader.uint64();
      const prefix = reader.cstring();
      const length = reader.uint32();
      return {
        tag: 'message',
        transactional: (flags & 1) !== 0,
        lsn,
        prefix,
        content: reader.bytes(length),
      };
    }
    default:
      throw new PgoutputDecodeError(
        `unknown pgoutput message type ${JSON.stringify(String.fromCharCode(tag))}`,
      );
  }
}

function readRelation(reader: Reader): Relation {
  const id = reader.uint32();
  const schema = reader.cstring();
  const table = reader.cstring();
  const identity = String.fromCharCode(reader.byte());
  const count = reader.uint16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const flags = reader.byte();
    columns.push({
      isKey: (flags & 1) !== 0,
      name: reader.cstring(),
      typeOid: reader.uint32(),
      typeModifier: reader.int32(),
    });
  }
  return {
    id,
    schema: schema || 'pg_catalog',
    table,
    replicaIdentity: REPLICA_IDENTITY[identity] ?? 'default',
    columns,
  };
}

function readTuple(reader: Reader): TupleValue[] {
  const count = reader.uint16();
  const values = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = reader.byte();
    switch (kind) {
      case 0x74 /* t */:
        values[i] = reader.text(reader.uint32());
        break;
      case 0x6e /* n */:
        values[i] = null;
        break;
      case 0x75 /* u */:
        values[i] = UNCHANGED_TOAST;
        break;
      default:
        throw new PgoutputDecodeError(
          `tuple column ${i}: unsupported kind ${JSON.stringify(String.fromCharCode(kind))} (binary mode is not used)`,
        );
    }
  }
  return values;
}

/** A cursor over a message buffer; every read checks bounds. */
class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number): number {
    const at = this.offset;
    if (at + bytes > this.buffer.length) {
      throw new PgoutputDecodeError(
        `message truncated: needed ${bytes} bytes at offset ${at} of ${this.buffer.length}`,
      );
    }
    this.offset += bytes;
    return at;
  }
  byte(): number {
    return this.buffer[this.need(1)]!;
  }
  expect(value: number): void {
    const got = this.byte();
    if (got !== value)
      throw new PgoutputDecodeError(
        `expected byte ${value}, got ${got} at offset ${this.offset - 1}`,
      );
  }
  uint16(): number {
    return this.buffer.readUInt16BE(this.need(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.need(4));
  }
  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4));
  }
  uint64(): bigint {
    return this.buffer.readBigUInt64BE(this.need(8));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.need(8));
  }
  text(length: number): string {
    const at = this.need(length);
    return this.buffer.toString('utf8', at, at + length);
  }
  /** A copy: the message buffer is reused by the socket reader once decoding returns. */
  bytes(length: number): Buffer {
    const at = this.need(length);
    return Buffer.from(this.buffer.subarray(at, at + length));
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new PgoutputDecodeError(`unterminated string at offset ${this.offset}`);
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }
}
