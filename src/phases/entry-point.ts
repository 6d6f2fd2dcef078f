/**
 * The steps that build the entry point for the inventory's mode: nginx on each LB host (one, or two or
 * three under keepalived), then keepalived and its virtual address; an external LB has none here
 * (discovery checked it; externalLbStep waits for its backends later).
 */
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { nginxStep } from "./load-balancer.js";
import { keepalivedStep, virtualAddressStep } from "./keepalived.js";

export async function entryPointSteps(ctx: StepContext): Promise<Step[]> {
  const lb = ctx.inventory.loadBalancer;
  const steps: Step[] = [];
  for (const h of lb.hosts) steps.push(await nginxStep(ctx, h.name));
  if (lb.mode === "keepalived") {
    for (const h of lb.hosts) steps.push(await keepalivedStep(ctx, h.name));
    steps.push(virtualAddressStep(ctx));
  }
  return steps;
}
