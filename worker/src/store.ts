// One model store per isolate, shared by every request the isolate serves.
import { ModelStore } from "./model-store.ts";

export const store = new ModelStore();
