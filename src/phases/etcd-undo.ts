/**
 * What undoing a failed etcd join by hand means, given the member's live state. Removing a started,
 * healthy voter would cost the cluster a voter (and, with two members, its quorum margin) for a step
 * that succeeded as far as etcd is concerned: that advice is never given.
 */

/** The joining node's member as etcd reports it now. */
export interface JoinedMember {
  id: string;
  isLearner: boolean;
  started: boolean;
  /** Its own endpoint answers and knows a leader. */
  healthy: boolean;
}

/**
 * `member`: undefined when the node is not a member, "unknown" when the member list could not be read.
 */
export function etcdUndoAdvice(
  node: string,
  member: JoinedMember | undefined | "unknown",
  manifest: string,
  dataDir: string,
): string {
  const cleanUp = `move ${manifest} away on ${node} and clear ${dataDir}`;
  if (member === "unknown") {
    return (
      `etcd's member list could not be read: check it with \`etcdctl member list\`; remove ${node}'s member ` +
      `only if it is a learner or has not started, never a started, healthy voter; then ${cleanUp}`
    );
  }
  if (!member) return `${node} is not an etcd member: ${cleanUp}`;
  if (member.isLearner || !member.started || !member.healthy) {
    const what = member.isLearner ? "a learner" : !member.started ? "never started" : "not healthy";
    return `etcdctl member remove ${member.id} (${node}, ${what}), then ${cleanUp}`;
  }
  return (
    `nothing to undo in etcd: ${node} is a started, healthy voting member (member ${member.id}) and must ` +
    `not be removed; run \`kubeha apply\` again to go on from here`
  );
}
