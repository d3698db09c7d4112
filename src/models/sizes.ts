// A model's sizes and dropout rates, declared once: the model config, the training and benchmark
// options, the CLI flags and their help texts all derive from this table. Kept free of the tensor
// engine so that flag parsing can read it without loading libtorch.

export interface ModelSizes {
  /** Word embedding size (taken from the vectors' file when pretrained embeddings are loaded). */
  dEmbed: number;
  /** Hidden size H of the encoder (a leaf and a tree node are [h | c], 2H wide). */
  dHidden: number;
  /** Tracker LSTM size (SPINN with a tracker; ignored by the other encoders). */
  dTracker: number;
  /** Width of the classifier's hidden layers. */
  dMlp: number;
  /** Number of the classifier's hidden layers. */
  nMlp: number;
  /** Dropout on the projected embeddings. */
  embedDropout: number;
  /** Dropout in the classifier. */
  mlpDropout: number;
}

export interface SizeSpec {
  /** The article's setting (the PyTorch reference's defaults). */
  default: number;
  flag: `--${string}`;
  kind: "integer" | "rate";
  /** Smallest valid value (integers); rates are in [0, 1). */
  min: number;
  help: string;
}

export const MODEL_SIZES: { readonly [K in keyof ModelSizes]: SizeSpec } = {
  dEmbed: {
    default: 300,
    flag: "--d-embed",
    kind: "integer",
    min: 1,
    help: "embedding size (without --embeddings)",
  },
  dHidden: { default: 300, flag: "--d-hidden", kind: "integer", min: 1, help: "hidden size H" },
  dTracker: { default: 64, flag: "--d-tracker", kind: "integer", min: 1, help: "tracker LSTM size" },
  dMlp: { default: 1024, flag: "--d-mlp", kind: "integer", min: 1, help: "classifier layer size" },
  nMlp: { default: 2, flag: "--n-mlp", kind: "integer", min: 0, help: "classifier hidden layers" },
  embedDropout: {
    default: 0.1,
    flag: "--embed-dropout",
    kind: "rate",
    min: 0,
    help: "dropout on projected embeddings",
  },
  mlpDropout: {
    default: 0.1,
    flag: "--mlp-dropout",
    kind: "rate",
    min: 0,
    help: "dropout in the classifier",
  },
};

export const SIZE_KEYS = Object.keys(MODEL_SIZES) as (keyof ModelSizes)[];

export const DEFAULT_SIZES: ModelSizes = Object.fromEntries(
  SIZE_KEYS.map((k) => [k, MODEL_SIZES[k].default]),
) as unknown as ModelSizes;

/** The sizes of anything that carries them (options, a config), and nothing else. */
export function sizesOf(o: ModelSizes): ModelSizes {
  return Object.fromEntries(SIZE_KEYS.map((k) => [k, o[k]])) as unknown as ModelSizes;
}
