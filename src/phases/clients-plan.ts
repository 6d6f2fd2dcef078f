import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { configMapSteps, masterKubeconfigsStep, nodeRoleStep } from "./clients.js";

/**
 * The client steps but the workers': the API objects (kube-proxy, cluster-info, kubeadm-config), the
 * new masters' label and taint, each master's kubeconfigs (its kubelet restarted). They need one
 * another in nothing: the runner starts them together once every apiserver serves.
 */
export async function clientSteps(ctx: StepContext): Promise<Step[]> {
  const steps: Step[] = [...(await configMapSteps(ctx))];
  for (const m of ctx.inventory.masters) steps.push(await nodeRoleStep(ctx, m));
  for (const m of ctx.masters) steps.push(await masterKubeconfigsStep(ctx, m));
  return steps;
}
