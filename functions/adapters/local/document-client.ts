import * as DynamoDB from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall, type marshallOptions, unmarshall } from '@aws-sdk/util-dynamodb';
import type { HttpRequest, HttpResponse } from '@smithy/types';

/**
 * The platform's own DynamoDB document client: the item commands the stores send (Get, Put, Update,
 * Delete, Query, Scan, BatchGet, BatchWrite) go to dynalite's request listener in this process as
 * DynamoDB's JSON protocol, marshalled as DynamoDBDocumentClient marshals them, without the AWS SDK's
 * per-command middleware stack (resolved, sorted and run for every command: ~0.6–0.9 ms of CPU per
 * command against ~0.2 ms for dynalite's own work, most of the embedded platform's CPU). dynalite
 * still parses, validates and answers every request as over HTTP; its errors become the SDK's own
 * exception classes. Any other command (table management) goes through the SDK client as before.
 */

type Json = Record<string, unknown>;
type Item = Record<string, unknown>;
type Attributes = Record<string, DynamoDB.AttributeValue>;

/** What the adapters' tests and the benchmarks hook in: called for each command with its input. */
type Middleware = (
  next: (args: { input: Json }) => Promise<{ output: unknown }>,
  context: { commandName: string; clientName: string },
) => (args: { input: Json }) => Promise<{ output: unknown }>;

/** How one document command maps to DynamoDB's operation, and its attributes both ways. */
interface Operation {
  name: string;
  input: (input: Json, marshalled: (value: Item) => Attributes) => Json;
  output: (output: Json) => Json;
}

/** Binary attributes travel as base64 in DynamoDB's JSON (the SDK's protocol does the same both ways). */
function binaryAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array
    ? Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64')
    : value;
}

/** An attribute value as the SDK deserializes it: binary (B, BS) back to bytes, in maps and lists too. */
function decoded(value: Record<string, unknown>): DynamoDB.AttributeValue {
  if (typeof value.B === 'string') return { B: new Uint8Array(Buffer.from(value.B, 'base64')) };
  if (Array.isArray(value.BS))
    return { BS: value.BS.map((one: string) => new Uint8Array(Buffer.from(one, 'base64'))) };
  if (value.M) return { M: decodedMap(value.M as Record<string, Record<string, unknown>>) };
  if (Array.isArray(value.L)) return { L: value.L.map((one) => decoded(one)) };
  return value as unknown as DynamoDB.AttributeValue;
}

function decodedMap(map: Record<string, Record<string, unknown>>): Attributes {
  const result: Attributes = {};
  for (const [name, value] of Object.entries(map)) result[name] = decoded(value);
  return result;
}

const items = (value: unknown): Item[] | undefined =>
  Array.isArray(value) ? value.map((one) => unmarshall(decodedMap(one))) : undefined;
const item = (value: unknown): Item | undefined =>
  value === undefined ? undefined : unmarshall(decodedMap(value as Record<string, Record<string, unknown>>));

/** Marshals the named top-level fields that hold attribute maps. */
function withMarshalled(input: Json, fields: string[], marshalled: (value: Item) => Attributes): Json {
  const result: Json = { ...input };
  for (const field of fields)
    if (input[field] !== undefined) result[field] = marshalled(input[field] as Item);
  return result;
}

/** Unmarshals the named top-level fields that hold attribute maps. */
function withUnmarshalled(output: Json, fields: string[]): Json {
  const result: Json = { ...output };
  for (const field of fields) if (output[field] !== undefined) result[field] = item(output[field]);
  return result;
}

const OPERATIONS = new Map<unknown, Operation>([
  [
    GetCommand,
    {
      name: 'GetItem',
      input: (input, m) => withMarshalled(input, ['Key'], m),
      output: (output) => withUnmarshalled(output, ['Item']),
    },
  ],
  [
    PutCommand,
    {
      name: 'PutItem',
      input: (input, m) => withMarshalled(input, ['Item', 'ExpressionAttributeValues'], m),
      output: (output) => withUnmarshalled(output, ['Attributes']),
    },
  ],
  [
    UpdateCommand,
    {
      name: 'UpdateItem',
      input: (input, m) => withMarshalled(input, ['Key', 'ExpressionAttributeValues'], m),
      output: (output) => withUnmarshalled(output, ['Attributes']),
    },
  ],
  [
    DeleteCommand,
    {
      name: 'DeleteItem',
      input: (input, m) => withMarshalled(input, ['Key', 'ExpressionAttributeValues'], m),
      output: (output) => withUnmarshalled(output, ['Attributes']),
    },
  ],
  [
    QueryCommand,
    {
      name: 'Query',
      input: (input, m) => withMarshalled(input, ['ExpressionAttributeValues', 'ExclusiveStartKey'], m),
      output: (output) => ({
        ...withUnmarshalled(output, ['LastEvaluatedKey']),
        ...(output.Items ? { Items: items(output.Items) } : {}),
      }),
    },
  ],
  [
    ScanCommand,
    {
      name: 'Scan',
      input: (input, m) => withMarshalled(input, ['ExpressionAttributeValues', 'ExclusiveStartKey'], m),
      output: (output) => ({
        ...withUnmarshalled(output, ['LastEvaluatedKey']),
        ...(output.Items ? { Items: items(output.Items) } : {}),
      }),
    },
  ],
  [
    BatchGetCommand,
    {
      name: 'BatchGetItem',
      input: (input, m) => ({
        ...input,
        RequestItems: Object.fromEntries(
          Object.entries(input.RequestItems as Record<string, Json>).map(([table, request]) => [
            table,
            { ...request, Keys: (request.Keys as Item[]).map(m) },
          ]),
        ),
      }),
      output: (output) => ({
        ...output,
        ...(output.Responses
          ? {
              Responses: Object.fromEntries(
                Object.entries(output.Responses as Record<string, unknown[]>).map(([table, found]) => [
                  table,
                  items(found),
                ]),
              ),
            }
          : {}),
        ...(output.UnprocessedKeys
          ? {
              UnprocessedKeys: Object.fromEntries(
                Object.entries(output.UnprocessedKeys as Record<string, Json>).map(([table, request]) => [
                  table,
                  { ...request, Keys: items(request.Keys) },
                ]),
              ),
            }
          : {}),
      }),
    },
  ],
  [
    BatchWriteCommand,
    {
      name: 'BatchWriteItem',
      input: (input, m) => ({
        ...input,
        RequestItems: Object.fromEntries(
          Object.entries(input.RequestItems as Record<string, Json[]>).map(([table, requests]) => [
            table,
            requests.map((request) => writeRequest(request, (value) => m(value))),
          ]),
        ),
      }),
      output: (output) => ({
        ...output,
        ...(output.UnprocessedItems
          ? {
              UnprocessedItems: Object.fromEntries(
                Object.entries(output.UnprocessedItems as Record<string, Json[]>).map(([table, requests]) => [
                  table,
                  requests.map((request) => writeRequest(request, (value) => item(value) as Item)),
                ]),
              ),
            }
          : {}),
      }),
    },
  ],
]);

/** A BatchWrite request (put or delete) with its item or key converted. */
function writeRequest(request: Json, convert: (value: Item) => unknown): Json {
  const put = request.PutRequest as { Item: Item } | undefined;
  const remove = request.DeleteRequest as { Key: Item } | undefined;
  return {
    ...(put ? { PutRequest: { ...put, Item: convert(put.Item) } } : {}),
    ...(remove ? { DeleteRequest: { ...remove, Key: convert(remove.Key) } } : {}),
  };
}

/** The error DynamoDB's API answered, as the SDK's own exception class where it has one. */
function serviceError(statusCode: number, body: Json): Error {
  const type = String(body.__type ?? 'UnknownError');
  const name = type.slice(type.lastIndexOf('#') + 1);
  const message = String(body.message ?? body.Message ?? name);
  const metadata = { httpStatusCode: statusCode };
  const Exception = (DynamoDB as unknown as Record<string, unknown>)[name];
  if (
    typeof Exception === 'function' &&
    Exception.prototype instanceof DynamoDB.DynamoDBServiceException &&
    name.endsWith('Exception')
  ) {
    const error = new (Exception as new (options: Json) => Error)({ message, $metadata: metadata });
    if (body.Item !== undefined) Object.assign(error, { Item: body.Item });
    return error;
  }
  return new DynamoDB.DynamoDBServiceException({
    name,
    $fault: statusCode >= 500 ? 'server' : 'client',
    message,
    $metadata: metadata,
  });
}

export interface InProcessRequests {
  handle(request: HttpRequest): Promise<{ response: HttpResponse }>;
}

/**
 * Builds the document client: item commands in process as above, anything else through `sdk`. Its
 * `middlewareStack.add` hooks item commands here and the SDK's commands there, as on the SDK client.
 */
export function inProcessDocumentClient(
  sdk: DynamoDBDocumentClient,
  requests: InProcessRequests,
  options: { marshall: marshallOptions; authorization: () => Record<string, string> },
): DynamoDBDocumentClient {
  const middlewares: Middleware[] = [];
  const marshalled = (value: Item) => marshall(value, options.marshall) as Attributes;

  async function call(operation: Operation, input: Json): Promise<Json> {
    const body = JSON.stringify(operation.input(input, marshalled), binaryAsBase64);
    const { response } = await requests.handle({
      method: 'POST',
      protocol: 'http:',
      hostname: 'localhost',
      path: '/',
      query: {},
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation.name}`,
        ...options.authorization(),
      },
      body,
    } as HttpRequest);
    const text = Buffer.from(response.body as Uint8Array).toString('utf8');
    const answer = (text ? JSON.parse(text) : {}) as Json;
    if (response.statusCode >= 400) throw serviceError(response.statusCode, answer);
    return { ...operation.output(answer), $metadata: { httpStatusCode: response.statusCode } };
  }

  const client = Object.create(sdk) as DynamoDBDocumentClient;
  const send = async (command: { constructor: unknown; input: Json }) => {
    const operation = OPERATIONS.get(command.constructor);
    if (!operation) return sdk.send(command as never);
    let handler = async (args: { input: Json }): Promise<{ output: unknown }> => ({
      output: await call(operation, args.input),
    });
    const context = { commandName: `${operation.name}Command`, clientName: 'DynamoDBClient' };
    for (const middleware of [...middlewares].reverse()) handler = middleware(handler, context);
    return (await handler({ input: command.input })).output;
  };
  const middlewareStack = Object.create(sdk.middlewareStack) as DynamoDBDocumentClient['middlewareStack'];
  middlewareStack.add = ((middleware: Middleware, placement: never) => {
    middlewares.push(middleware);
    sdk.middlewareStack.add(middleware as never, placement);
  }) as never;
  // Writable, as on the SDK client: tests wrap `send` to fail or count commands.
  const own = { writable: true, configurable: true, enumerable: false };
  Object.defineProperties(client, {
    send: { value: send, ...own },
    middlewareStack: { value: middlewareStack, ...own },
    destroy: { value: () => sdk.destroy(), ...own },
  });
  return client;
}
