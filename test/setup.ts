// Deterministic rendering whatever the machine: CI=true makes Ink non-interactive, NO_COLOR changes colours.
delete process.env.CI;
delete process.env.NO_COLOR;
process.env.FORCE_COLOR = '0';
