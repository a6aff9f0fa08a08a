/**
 * OpenTelemetry logs over OTLP/HTTP (`POST /v1/logs`): an `ExportLogsServiceRequest` as binary
 * protobuf (`application/x-protobuf`) or OTLP/JSON (`application/json`), each LogRecord one
 * ironlog event. Answers in the request's content type, as the OTLP/HTTP specification says:
 * 200 with an `ExportLogsServiceResponse` (with `partial_success` when some records were refused),
 * 400/413/415/503 with a `google.rpc.Status`.
 *
 * The protobuf schema below is written from the OTLP specification (opentelemetry-proto
 * `collector/logs/v1/logs_service.proto`, `logs/v1/logs.proto`, `common/v1/common.proto`,
 * `resource/v1/resource.proto`): the same messages, field numbers and wire types, limited to the
 * fields ironlog reads. No npm package ships the official `.proto` files; the tests drive this
 * decoder with the real OpenTelemetry JS exporters.
 *
 * How a LogRecord becomes an event is documented in docs/integrations/opentelemetry.md.
 */
import protobuf from 'protobufjs';

/** The OTLP messages ironlog reads and writes, proto3. */
const kOtlpLogsProto = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource {
  repeated KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
message ScopeLogs {
  InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
  string schema_url = 3;
}
message ResourceLogs {
  Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
  string schema_url = 3;
}
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsPartialSuccess {
  int64 rejected_log_records = 1;
  string error_message = 2;
}
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
message Status {
  int32 code = 1;
  string message = 2;
}
`;

interface OtlpTypes {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
  readonly status: protobuf.Type;
}

let kTypes: OtlpTypes | undefined;
function types(): OtlpTypes {
  if (kTypes === undefined) {
    const root = protobuf.parse(kOtlpLogsProto, { keepCase: false }).root;
    kTypes = {
      request: root.lookupType('opentelemetry.proto.ExportLogsServiceRequest'),
      response: root.lookupType('opentelemetry.proto.ExportLogsServiceResponse'),
      status: root.lookupType('opentelemetry.proto.Status'),
    };
  }
  return kTypes;
}

/** The two OTLP/HTTP encodings. */
export type OtlpEncoding = 'protobuf' | 'json';

/** The encoding of a Content-Type header, or undefined when OTLP/HTTP does not define it. */
export function otlpEncodingFor(contentType: string | undefined): OtlpEncoding | undefined {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (media === 'application/x-protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

/** The content type of an answer in `encoding`. */
export function otlpContentType(encoding: OtlpEncoding): string {
  return encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json';
}

/** gRPC status codes used in `google.rpc.Status` answers. */
export const GrpcCode = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

/** A malformed request: the message says where. */
export class OtlpFormatError extends Error {
  override readonly name = 'OtlpFormatError';
}

/** A JS value as the event holds it: AnyValue mapped as docs/integrations/opentelemetry.md says. */
export type OtlpValue = string | number | boolean | null | OtlpValue[] | { [key: string]: OtlpValue };

/** One LogRecord as an ironlog event. */
export interface OtlpLogEvent {
  /** `timeUnixNano` (or, when 0, `observedTimeUnixNano`) as an ISO-8601 UTC time; null when both are 0. */
  time: string | null;
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: OtlpValue;
  attributes: { [key: string]: OtlpValue };
  droppedAttributesCount?: number;
  eventName?: string;
  traceId?: string;
  spanId?: string;
  flags?: number;
  resource: { attributes: { [key: string]: OtlpValue }; droppedAttributesCount?: number; schemaUrl?: string };
  scope: { name: string; version: string; attributes: { [key: string]: OtlpValue }; schemaUrl?: string };
}

/** Sets an own property (also `__proto__`, which assignment would treat as the prototype). */
function setOwn(target: { [key: string]: OtlpValue }, key: string, value: OtlpValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const kMaxDepth = 64;

// ---------------------------------------------------------------- protobuf (decoded objects)

interface PbLong {
  toString(): string;
}
type PbAnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: PbLong | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
};
type PbKeyValue = { key?: string; value?: PbAnyValue };

/** An int64 as the event holds it: a number when it is a safe integer, else its decimal string. */
function int64Value(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function pbValue(v: PbAnyValue | undefined, depth: number): OtlpValue {
  if (depth > kMaxDepth) throw new OtlpFormatError(`AnyValue nested deeper than ${kMaxDepth} levels`);
  if (v === undefined || v === null) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return int64Value(v.intValue.toString());
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue).toString('base64');
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map((x) => pbValue(x, depth + 1));
  if (v.kvlistValue !== undefined) return pbAttributes(v.kvlistValue.values, depth + 1);
  return null;
}

function pbAttributes(list: readonly PbKeyValue[] | undefined, depth = 0): { [key: string]: OtlpValue } {
  const out: { [key: string]: OtlpValue } = {};
  for (const kv of list ?? []) setOwn(out, kv.key ?? '', pbValue(kv.value, depth + 1));
  return out;
}

// ---------------------------------------------------------------- OTLP/JSON (parsed JSON)

/** One field of a parsed JSON object. */
function field(o: Record<string, unknown>, key: string): unknown {
  return o[key];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonArray(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpFormatError(`${where} must be an array`);
  return v;
}

function jsonObject(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new OtlpFormatError(`${where} must be an object`);
  return v;
}

/** An unsigned 64-bit integer of OTLP/JSON: a decimal string or a number; its decimal text. */
function jsonUint64(v: unknown, where: string): string {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v) && BigInt(v) < 2n ** 64n) return BigInt(v).toString();
  throw new OtlpFormatError(`${where} must be an unsigned 64-bit integer (a decimal string or a number)`);
}

function jsonInt64(v: unknown, where: string): number | string {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) {
    const b = BigInt(v);
    if (b >= -(2n ** 63n) && b < 2n ** 63n) return int64Value(b.toString());
  }
  throw new OtlpFormatError(`${where} must be a 64-bit integer (a decimal string or a number)`);
}

function jsonUint32(v: unknown, where: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  throw new OtlpFormatError(`${where} must be an unsigned 32-bit integer`);
}

function jsonString(v: unknown, where: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new OtlpFormatError(`${where} must be a string`);
  return v;
}

/** traceId / spanId in OTLP/JSON: hex (not base64, unlike other bytes fields). */
function jsonHexId(v: unknown, bytes: number, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) {
    throw new OtlpFormatError(`${where} must be ${bytes * 2} hex digits`);
  }
  return v.toLowerCase();
}

function jsonValue(v: unknown, where: string, depth: number): OtlpValue {
  if (depth > kMaxDepth) throw new OtlpFormatError(`AnyValue nested deeper than ${kMaxDepth} levels`);
  if (v === undefined || v === null) return null;
  const o = jsonObject(v, where);
  if ('stringValue' in o) return jsonString(field(o, 'stringValue'), `${where}.stringValue`);
  if ('boolValue' in o) {
    const b = field(o, 'boolValue');
    if (typeof b !== 'boolean') throw new OtlpFormatError(`${where}.boolValue must be a boolean`);
    return b;
  }
  if ('intValue' in o) return jsonInt64(field(o, 'intValue'), `${where}.intValue`);
  if ('doubleValue' in o) {
    const d = field(o, 'doubleValue');
    if (typeof d === 'number') return d;
    throw new OtlpFormatError(`${where}.doubleValue must be a number`);
  }
  if ('bytesValue' in o) {
    const b = field(o, 'bytesValue');
    if (typeof b !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b)) {
      throw new OtlpFormatError(`${where}.bytesValue must be base64`);
    }
    return b;
  }
  if ('arrayValue' in o) {
    const values = jsonArray(
      field(jsonObject(field(o, 'arrayValue'), `${where}.arrayValue`), 'values'),
      `${where}.arrayValue.values`,
    );
    return values.map((x, i) => jsonValue(x, `${where}.arrayValue.values[${i}]`, depth + 1));
  }
  if ('kvlistValue' in o) {
    const values = field(jsonObject(field(o, 'kvlistValue'), `${where}.kvlistValue`), 'values');
    return jsonAttributes(values, `${where}.kvlistValue.values`, depth + 1);
  }
  return null;
}

function jsonAttributes(v: unknown, where: string, depth = 0): { [key: string]: OtlpValue } {
  const out: { [key: string]: OtlpValue } = {};
  jsonArray(v, where).forEach((kv, i) => {
    const o = jsonObject(kv, `${where}[${i}]`);
    setOwn(
      out,
      jsonString(field(o, 'key'), `${where}[${i}].key`),
      jsonValue(field(o, 'value'), `${where}[${i}].value`, depth + 1),
    );
  });
  return out;
}

// ---------------------------------------------------------------- the event

/** ISO-8601 UTC time of a nanosecond timestamp (decimal text); null for 0. */
function isoOf(nanos: string): string | null {
  if (nanos === '0') return null;
  const ns = BigInt(nanos);
  const ms = Number(ns / 1_000_000n);
  if (!Number.isFinite(ms) || ms > 8.64e15) return null;
  const date = new Date(ms).toISOString();
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${date.slice(0, 19)}.${frac}Z`;
}

interface Common {
  resource: OtlpLogEvent['resource'];
  scope: OtlpLogEvent['scope'];
}

function makeEvent(
  c: Common,
  r: {
    timeUnixNano: string;
    observedTimeUnixNano: string;
    severityNumber: number;
    severityText: string;
    body: OtlpValue;
    attributes: { [key: string]: OtlpValue };
    droppedAttributesCount: number;
    eventName: string;
    traceId: string | undefined;
    spanId: string | undefined;
    flags: number;
  },
): OtlpLogEvent {
  const event: OtlpLogEvent = {
    time: isoOf(r.timeUnixNano !== '0' ? r.timeUnixNano : r.observedTimeUnixNano),
    timeUnixNano: r.timeUnixNano,
    observedTimeUnixNano: r.observedTimeUnixNano,
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: r.body,
    attributes: r.attributes,
    resource: c.resource,
    scope: c.scope,
  };
  if (r.droppedAttributesCount !== 0) event.droppedAttributesCount = r.droppedAttributesCount;
  if (r.eventName !== '') event.eventName = r.eventName;
  if (r.traceId !== undefined) event.traceId = r.traceId;
  if (r.spanId !== undefined) event.spanId = r.spanId;
  if (r.flags !== 0) event.flags = r.flags;
  return event;
}

function hexOf(bytes: Uint8Array | undefined, size: number, where: string): string | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined;
  if (bytes.length !== size) throw new OtlpFormatError(`${where} must be ${size} bytes`);
  return Buffer.from(bytes).toString('hex');
}

interface PbRequest {
  resourceLogs?: Array<{
    resource?: { attributes?: PbKeyValue[]; droppedAttributesCount?: number };
    schemaUrl?: string;
    scopeLogs?: Array<{
      scope?: { name?: string; version?: string; attributes?: PbKeyValue[] };
      schemaUrl?: string;
      logRecords?: Array<{
        timeUnixNano?: PbLong | number;
        observedTimeUnixNano?: PbLong | number;
        severityNumber?: number;
        severityText?: string;
        body?: PbAnyValue;
        attributes?: PbKeyValue[];
        droppedAttributesCount?: number;
        flags?: number;
        traceId?: Uint8Array;
        spanId?: Uint8Array;
        eventName?: string;
      }>;
    }>;
  }>;
}

function fromProtobuf(body: Buffer): OtlpLogEvent[] {
  let msg: PbRequest;
  try {
    const t = types().request;
    // Plain objects with only the fields the body set (decoded messages carry defaults on their
    // prototype, so an unset oneof member would read as '' or 0).
    msg = t.toObject(t.decode(body), { longs: String, defaults: false, arrays: true }) as PbRequest;
  } catch (err) {
    throw new OtlpFormatError(`the body is not a protobuf ExportLogsServiceRequest: ${(err as Error).message}`);
  }
  const out: OtlpLogEvent[] = [];
  (msg.resourceLogs ?? []).forEach((rl, i) => {
    const resource: OtlpLogEvent['resource'] = { attributes: pbAttributes(rl.resource?.attributes) };
    if (rl.resource?.droppedAttributesCount) resource.droppedAttributesCount = rl.resource.droppedAttributesCount;
    if (rl.schemaUrl) resource.schemaUrl = rl.schemaUrl;
    (rl.scopeLogs ?? []).forEach((sl, j) => {
      const scope: OtlpLogEvent['scope'] = {
        name: sl.scope?.name ?? '',
        version: sl.scope?.version ?? '',
        attributes: pbAttributes(sl.scope?.attributes),
      };
      if (sl.schemaUrl) scope.schemaUrl = sl.schemaUrl;
      (sl.logRecords ?? []).forEach((lr, k) => {
        const where = `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`;
        out.push(
          makeEvent(
            { resource, scope },
            {
              timeUnixNano: (lr.timeUnixNano ?? 0).toString(),
              observedTimeUnixNano: (lr.observedTimeUnixNano ?? 0).toString(),
              severityNumber: lr.severityNumber ?? 0,
              severityText: lr.severityText ?? '',
              body: pbValue(lr.body, 0),
              attributes: pbAttributes(lr.attributes),
              droppedAttributesCount: lr.droppedAttributesCount ?? 0,
              eventName: lr.eventName ?? '',
              traceId: hexOf(lr.traceId, 16, `${where}.traceId`),
              spanId: hexOf(lr.spanId, 8, `${where}.spanId`),
              flags: lr.flags ?? 0,
            },
          ),
        );
      });
    });
  });
  return out;
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

function fromJson(body: Buffer): OtlpLogEvent[] {
  let doc: unknown;
  try {
    doc = JSON.parse(kUtf8.decode(body));
  } catch (err) {
    throw new OtlpFormatError(`the body is not UTF-8 JSON: ${(err as Error).message}`);
  }
  const req = jsonObject(doc, 'the body');
  if (!isObject(doc)) throw new OtlpFormatError('the body must be a JSON object');
  const out: OtlpLogEvent[] = [];
  jsonArray(field(req, 'resourceLogs'), 'resourceLogs').forEach((rlv, i) => {
    const rl = jsonObject(rlv, `resourceLogs[${i}]`);
    const res = jsonObject(field(rl, 'resource'), `resourceLogs[${i}].resource`);
    const resource: OtlpLogEvent['resource'] = {
      attributes: jsonAttributes(field(res, 'attributes'), `resourceLogs[${i}].resource.attributes`),
    };
    const rdrop = jsonUint32(
      field(res, 'droppedAttributesCount'),
      `resourceLogs[${i}].resource.droppedAttributesCount`,
    );
    if (rdrop !== 0) resource.droppedAttributesCount = rdrop;
    const rurl = jsonString(field(rl, 'schemaUrl'), `resourceLogs[${i}].schemaUrl`);
    if (rurl !== '') resource.schemaUrl = rurl;
    jsonArray(field(rl, 'scopeLogs'), `resourceLogs[${i}].scopeLogs`).forEach((slv, j) => {
      const at = `resourceLogs[${i}].scopeLogs[${j}]`;
      const sl = jsonObject(slv, at);
      const sc = jsonObject(field(sl, 'scope'), `${at}.scope`);
      const scope: OtlpLogEvent['scope'] = {
        name: jsonString(field(sc, 'name'), `${at}.scope.name`),
        version: jsonString(field(sc, 'version'), `${at}.scope.version`),
        attributes: jsonAttributes(field(sc, 'attributes'), `${at}.scope.attributes`),
      };
      const surl = jsonString(field(sl, 'schemaUrl'), `${at}.schemaUrl`);
      if (surl !== '') scope.schemaUrl = surl;
      jsonArray(field(sl, 'logRecords'), `${at}.logRecords`).forEach((lrv, k) => {
        const where = `${at}.logRecords[${k}]`;
        const lr = jsonObject(lrv, where);
        const sev = field(lr, 'severityNumber');
        if (sev !== undefined && !(typeof sev === 'number' && Number.isInteger(sev) && sev >= 0 && sev <= 24)) {
          throw new OtlpFormatError(`${where}.severityNumber must be an integer from 0 to 24`);
        }
        out.push(
          makeEvent(
            { resource, scope },
            {
              timeUnixNano: jsonUint64(field(lr, 'timeUnixNano'), `${where}.timeUnixNano`),
              observedTimeUnixNano: jsonUint64(field(lr, 'observedTimeUnixNano'), `${where}.observedTimeUnixNano`),
              severityNumber: (sev as number | undefined) ?? 0,
              severityText: jsonString(field(lr, 'severityText'), `${where}.severityText`),
              body: jsonValue(field(lr, 'body'), `${where}.body`, 0),
              attributes: jsonAttributes(field(lr, 'attributes'), `${where}.attributes`),
              droppedAttributesCount: jsonUint32(
                field(lr, 'droppedAttributesCount'),
                `${where}.droppedAttributesCount`,
              ),
              eventName: jsonString(field(lr, 'eventName'), `${where}.eventName`),
              traceId: jsonHexId(field(lr, 'traceId'), 16, `${where}.traceId`),
              spanId: jsonHexId(field(lr, 'spanId'), 8, `${where}.spanId`),
              flags: jsonUint32(field(lr, 'flags'), `${where}.flags`),
            },
          ),
        );
      });
    });
  });
  return out;
}

/** Decodes a request body into events, or throws {@link OtlpFormatError}. */
export function decodeOtlpLogs(body: Buffer, encoding: OtlpEncoding): OtlpLogEvent[] {
  return encoding === 'protobuf' ? fromProtobuf(body) : fromJson(body);
}

/** The 200 answer: an ExportLogsServiceResponse, with `partial_success` when records were refused. */
export function otlpSuccessBody(encoding: OtlpEncoding, rejected: number, errorMessage: string): Buffer | string {
  if (encoding === 'json') {
    return JSON.stringify(
      rejected === 0 ? {} : { partialSuccess: { rejectedLogRecords: String(rejected), errorMessage } },
    );
  }
  const t = types().response;
  const msg = rejected === 0 ? {} : { partialSuccess: { rejectedLogRecords: rejected, errorMessage } };
  return Buffer.from(t.encode(t.fromObject(msg)).finish());
}

/** An error answer: a `google.rpc.Status`. */
export function otlpStatusBody(encoding: OtlpEncoding, code: number, message: string): Buffer | string {
  if (encoding === 'json') return JSON.stringify({ code, message });
  const t = types().status;
  return Buffer.from(t.encode(t.fromObject({ code, message })).finish());
}
