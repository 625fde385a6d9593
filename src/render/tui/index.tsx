import type { Context } from '../../context/context';
import type { RunPlan } from '../../run/runner';
import { runChecks } from '../../run/runner';
import type { Report } from '../../run/types';
import { renderText } from '../text';

/** Placeholder until the Ink view lands: runs the checks and prints the text report. */
export async function runInTerminal(ctx: Context, plan: RunPlan): Promise<Report> {
  const report = await runChecks(ctx, plan);
  process.stdout.write(renderText(report));
  return report;
}
