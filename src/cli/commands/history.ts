/** `history NAME`: the last finished operations, newest first. */
import type { RotationRecord } from '../../api/types.ts';
import { EXIT, getOne, type Command } from '../api.ts';
import { note, painter, print, printStructured, table, type Painter } from '../output.ts';

export const history: Command = {
  summary: 'The last finished operations, newest first.',
  help: `The last finished operations of a JwtRotation, newest first (status.history).

Usage:
  kubectl jwtrotation history NAME [-n NAMESPACE] [-o json|yaml]`,
  needsName: true,
  async run(api, name = '', o) {
    const records = (await getOne(api, name)).status?.history ?? [];
    if (o.output !== undefined) printStructured(records, o.output);
    else if (records.length === 0) note(`No finished operations yet for ${api.namespace}/${name}.`);
    else print(table(historyRows(records, painter(o.color))));
    return EXIT.ok;
  },
};

function historyRows(records: RotationRecord[], p: Painter): string[][] {
  return [
    ['FINISHED', 'TRIGGER', 'OUTCOME', 'REASON', 'DURATION', 'PREVIOUS KEY', 'NEW KEY'],
    ...records.map((h) => {
      const took =
        h.startedAt !== undefined && h.finishedAt !== undefined
          ? `${Math.round((Date.parse(h.finishedAt) - Date.parse(h.startedAt)) / 1000)}s`
          : '-';
      const outcome = h.outcome === 'Completed' ? p.green(h.outcome) : p.yellow(h.outcome ?? '-');
      return [
        h.finishedAt ?? '-',
        h.trigger ?? '-',
        outcome,
        h.reason ?? '-',
        took,
        h.previousKeyFingerprint ?? '-',
        h.newKeyFingerprint ?? '-',
      ];
    }),
  ];
}
