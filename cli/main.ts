import { ficusVersion, isFicusError } from '../common/index.js';
import { subcommandOf } from './command.js';
import { commands } from './commands/index.js';

const usage = `Usage: ficus <command> [options]

ficus moves a monolith to services without a big-bang rewrite.

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Run 'ficus <command> --help' for a command's options, 'ficus <command> <subcommand> --help'
for a subcommand's, and 'ficus --version' for the version.`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === 'version') {
    console.log(`ficus ${ficusVersion()}`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    console.log(topic ? (subcommandOf(topic, rest.slice(1))?.help ?? topic.help) : usage);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(
      `ficus: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}.`,
    );
    console.error("Run 'ficus --help' for usage.");
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(subcommandOf(command, rest)?.help ?? command.help);
    return 0;
  }
  try {
    await command.run(rest, process.env);
    return -1;
  } catch (error) {
    if (isFicusError(error)) {
      console.error(`ficus ${name}: ${error.message} [${error.code}]`);
      return error.code === 'FICUS_CONFIG_INVALID' ? 2 : 1;
    }
    console.error(`ficus ${name}: unexpected error`, error);
    return 1;
  }
}

const status = await main(process.argv.slice(2));
// -1: a long-running command is up; it exits from its signal handler.
if (status >= 0) process.exit(status);
