/** An opaque native tensor handle (a type-tagged Node-API External). Only the engine touches it. */
export type Handle = { readonly __nativeTensorHandle: unique symbol };
/** An opaque native process-group handle (a type-tagged External; src/engine/distributed.ts). */
export type GroupHandle = { readonly __nativeGroupHandle: unique symbol };
/** One of a state-memory gather's native arguments (StateMemory.gatherArgs). */
export type GatherArg = Handle | Int32Array | number;
