// One lab for the tests of a describe block: started before the first, stopped after the last.
import { after, before } from "node:test";
import { startLab, type Lab, type LabOptions } from "./lab.js";

/** Call inside describe(); the returned function gives the lab once `before` has started it. */
export function sharedLab(options: LabOptions): () => Lab {
  let lab: Lab | undefined;
  before(async () => {
    lab = await startLab(options);
  });
  after(async () => {
    await lab?.stop();
  });
  return () => {
    if (!lab) throw new Error("the lab did not start");
    return lab;
  };
}
