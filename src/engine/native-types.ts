/** An opaque native tensor handle (a type-tagged Node-API External). Only the engine touches it. */
export type Handle = { readonly __nativeTensorHandle: unique symbol };
