import type { Catcher, State, StateMachineDefinition } from './asl.ts';

/** Renders a compiled definition as a Mermaid flowchart: solid edges for flow, dotted for Catch. */
export function toMermaid(definition: StateMachineDefinition, title?: string): string {
  const lines: string[] = [];
  if (title) lines.push('---', `title: ${title.replace(/[\r\n]/g, ' ')}`, '---');
  lines.push('flowchart TD');
  const ids = new Map<string, string>();
  const idOf = (name: string) => {
    let id = ids.get(name);
    if (!id) {
      id = `s${ids.size}`;
      ids.set(name, id);
    }
    return id;
  };
  const label = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;
  const node = (name: string, state: State) => {
    const id = idOf(name);
    switch (state.Type) {
      case 'Choice':
        return `${id}{${label(name)}}`;
      case 'Pass':
        return `${id}([${label(name)}])`;
      case 'Succeed':
      case 'Fail':
        return `${id}((${label(name)}))`;
      case 'Parallel':
      case 'Map':
        return `${id}[[${label(name)}]]`;
      case 'Wait':
        return `${id}>${label(name)}]`;
      default:
        return state.Resource.includes('waitForTaskToken')
          ? `${id}[/${label(name)}/]`
          : `${id}[${label(name)}]`;
    }
  };
  const edgeLabel = (catcher: Catcher) => label(catcher.ErrorEquals.join(', '));

  const render = (machine: StateMachineDefinition, indent: string) => {
    for (const [name, state] of Object.entries(machine.States)) {
      lines.push(`${indent}${node(name, state)}`);
      if (state.Type === 'Parallel') {
        lines.push(`${indent}subgraph ${idOf(name)}_group[${label(name)}]`);
        state.Branches.forEach((branch, index) => {
          lines.push(`${indent}  subgraph ${idOf(name)}_lane${index}[${label(`lane ${index + 1}`)}]`);
          render(branch, `${indent}    `);
          lines.push(`${indent}  end`);
          lines.push(`${indent}  ${idOf(name)} --> ${idOf(branch.StartAt)}`);
        });
        lines.push(`${indent}end`);
      }
      if (state.Type === 'Map') {
        lines.push(`${indent}subgraph ${idOf(name)}_each[${label('each lane')}]`);
        render(state.ItemProcessor, `${indent}  `);
        lines.push(`${indent}end`);
        lines.push(`${indent}${idOf(name)} --> ${idOf(state.ItemProcessor.StartAt)}`);
      }
    }
    for (const [name, state] of Object.entries(machine.States)) {
      const from = idOf(name);
      if (state.Type === 'Choice') {
        state.Choices.forEach((choice, index) => {
          if (choice.Next)
            lines.push(`${indent}${from} -->|${label(`rule ${index + 1}`)}| ${idOf(choice.Next)}`);
        });
        if (state.Default) lines.push(`${indent}${from} -->|${label('default')}| ${idOf(state.Default)}`);
        continue;
      }
      if ('Next' in state && state.Next) lines.push(`${indent}${from} --> ${idOf(state.Next)}`);
      if ('Catch' in state && state.Catch) {
        for (const catcher of state.Catch)
          lines.push(`${indent}${from} -.->|${edgeLabel(catcher)}| ${idOf(catcher.Next)}`);
      }
    }
  };
  render(definition, '  ');
  return `${lines.join('\n')}\n`;
}
