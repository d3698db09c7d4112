/**
 * An error raised by libtorch (shape, dtype, device, index out of range, ...), carrying
 * libtorch's own message and the engine op that raised it. The native layer constructs it.
 */
export class TorchError extends Error {
  override name = "TorchError";
  readonly op: string;
  readonly torchMessage: string;

  constructor(message: string, op: string) {
    super(`${op}: ${message}`);
    this.op = op;
    this.torchMessage = message;
  }
}
