import { useState, type FormEvent } from 'react';
import {
  ApiError,
  postJson,
  type CollectionSummary,
  type JsonSchemaProperty,
  type PipelineInfo,
  type RunJson,
} from '../api.js';
import { Problem } from '../components/problem.js';
import { show } from '../format.js';
import { useJson } from '../hooks.js';
import { navigate } from '../router.js';

function ParamInput(props: {
  id: string;
  schema: JsonSchemaProperty;
  value: string;
  invalid: boolean;
  onChange: (value: string) => void;
}) {
  const { schema } = props;
  const placeholder = schema.default === undefined ? '' : show(schema.default);
  const common = {
    id: props.id,
    name: props.id,
    'aria-invalid': props.invalid,
    className: props.invalid ? 'invalid' : undefined,
  };
  if (schema.enum) {
    return (
      <select {...common} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">default ({placeholder})</option>
        {schema.enum.map((v) => (
          <option key={String(v)} value={String(v)}>
            {String(v)}
          </option>
        ))}
      </select>
    );
  }
  if (schema.type === 'boolean') {
    return (
      <select {...common} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">default ({placeholder})</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  }
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined
      ? ` (${schema.minimum ?? '…'} to ${schema.maximum ?? '…'})`
      : '';
  // Free text on purpose: the server's schema is the judge, and says what is wrong.
  return (
    <input
      {...common}
      value={props.value}
      placeholder={`${placeholder}${range}`}
      onChange={(e) => props.onChange(e.target.value)}
    />
  );
}

/** `step.param=value` as `--set` takes it; text params are quoted so "10" stays text. */
function setEntry(key: string, schema: JsonSchemaProperty | undefined, value: string): string {
  const numeric = schema?.type === 'integer' || schema?.type === 'number' || schema?.type === 'boolean';
  return `${key}=${numeric || schema?.enum ? value : JSON.stringify(value)}`;
}

/**
 * Starts a run on a collection. The step params come from the server's own schemas (JSON Schema of each
 * step's zod schema); what is typed is sent as `set` entries and checked there, and a refusal names the
 * field or param, which is then marked.
 */
export function StartRunForm({ onStarted }: { onStarted?: () => void }) {
  const pipelines = useJson<PipelineInfo[]>('/api/pipelines').data ?? [];
  const collections = useJson<CollectionSummary[]>('/api/collections', 10_000).data ?? [];
  const [pipelineRef, setPipelineRef] = useState('');
  const [collection, setCollection] = useState('');
  const [policy, setPolicy] = useState('sandbox');
  const [workers, setWorkers] = useState('');
  const [minFree, setMinFree] = useState('');
  const [force, setForce] = useState(false);
  const [params, setParams] = useState<Record<string, string>>({});
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  const pipeline = pipelines.find((p) => p.ref === pipelineRef) ?? pipelines[0];
  const chosenCollection = collection || collections[0]?.name || '';
  const bad = error instanceof ApiError ? error.body : undefined;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!pipeline) return;
    const schemas = Object.fromEntries(
      pipeline.steps.flatMap((s) =>
        Object.entries(s.params.properties ?? {}).map(([k, v]) => [`${s.name}.${k}`, v] as const),
      ),
    );
    const set = Object.entries(params)
      .filter(([key, value]) => value !== '' && key in schemas)
      .map(([key, value]) => setEntry(key, schemas[key], value));
    setBusy(true);
    postJson<RunJson>('/api/runs', {
      pipeline: pipeline.ref,
      collection: chosenCollection,
      policy,
      set,
      force,
      ...(workers ? { workers } : {}),
      ...(minFree ? { minFree } : {}),
    }).then(
      (run) => {
        setError(undefined);
        onStarted?.();
        navigate(`/runs/${run.id}`);
      },
      (e: unknown) => {
        setError(e as Error);
        setBusy(false);
      },
    );
  };

  if (pipelines.length === 0) return <p className="muted">No pipelines are registered on this server.</p>;
  return (
    <form className="start-run card" onSubmit={submit} data-testid="start-run">
      <h2>Start a run</h2>
      <div className="form-row">
        <label>
          Pipeline
          <select
            name="pipeline"
            value={pipeline?.ref ?? ''}
            onChange={(e) => setPipelineRef(e.target.value)}
            className={bad?.field === 'pipeline' ? 'invalid' : undefined}
          >
            {pipelines.map((p) => (
              <option key={p.ref} value={p.ref}>
                {p.ref}: {p.description}
              </option>
            ))}
          </select>
        </label>
        <label>
          Collection
          <select
            name="collection"
            value={chosenCollection}
            onChange={(e) => setCollection(e.target.value)}
            className={bad?.field === 'collection' ? 'invalid' : undefined}
          >
            {collections.length === 0 && <option value="">(none: save one from Browse)</option>}
            {collections.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} ({c.assets} assets)
              </option>
            ))}
          </select>
        </label>
        <label>
          Policy
          <select name="policy" value={policy} onChange={(e) => setPolicy(e.target.value)}>
            <option value="sandbox">sandbox (shuffled, expiring)</option>
            <option value="production">production (kept, current)</option>
          </select>
        </label>
        <label>
          Workers
          <input
            name="workers"
            value={workers}
            placeholder="default"
            size={6}
            onChange={(e) => setWorkers(e.target.value)}
            className={bad?.field === 'workers' ? 'invalid' : undefined}
          />
        </label>
        <label>
          Min free
          <input
            name="minFree"
            value={minFree}
            placeholder="policy default"
            size={10}
            onChange={(e) => setMinFree(e.target.value)}
            className={bad?.field === 'minFree' ? 'invalid' : undefined}
          />
        </label>
        <label className="check">
          <input type="checkbox" name="force" checked={force} onChange={(e) => setForce(e.target.checked)} />{' '}
          force (no reuse)
        </label>
      </div>
      {pipeline?.steps.map((step) => {
        const props = Object.entries(step.params.properties ?? {});
        return (
          <fieldset key={step.name}>
            <legend>
              {step.name}{' '}
              <span className="muted">
                ({step.tool}, makes {step.artifactKind})
              </span>
            </legend>
            {props.length === 0 && <span className="muted">no params</span>}
            {props.map(([name, schema]) => {
              const key = `${step.name}.${name}`;
              return (
                <label key={key} htmlFor={key}>
                  {name}
                  <ParamInput
                    id={key}
                    schema={schema}
                    value={params[key] ?? ''}
                    invalid={bad?.param === key}
                    onChange={(v) => setParams({ ...params, [key]: v })}
                  />
                </label>
              );
            })}
          </fieldset>
        );
      })}
      <Problem error={error} />
      <button type="submit" disabled={busy || !chosenCollection}>
        Start run
      </button>
    </form>
  );
}
