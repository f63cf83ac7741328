// The JSON shapes of the HTTP contract, named for the app: each is the generated schema
// (src/api/schema.d.ts, from the server's /openapi.json by `scripts/clients --write`), never a
// copy written by hand.
import type { components } from '../api/schema';

type Schemas = components['schemas'];

export type User = Schemas['User'];
export type Role = Schemas['Role'];
export type LoginResponse = Schemas['LoginResponse'];
export type RenewResponse = Schemas['RenewAccessResponse'];
export type Account = Schemas['AccountView'];
export type Entry = Schemas['EntryView'];
export type Transfer = Schemas['TransferView'];
export type TransferStatus = Transfer['status'];
export type TransferResult = Schemas['TransferResult'];
export type PendingResult = Schemas['PendingResult'];
export type MovementResult = Schemas['MovementResult'];
export type NewTransfer = Schemas['CreateTransferRequest'];
export type EventsPage = Schemas['EventsPage'];
/** Every `error.code` the server answers with. */
export type ErrorCode = Schemas['ErrorDetail']['code'];
/** The currencies the server accepts. */
export type Currency = Account['currency'];
