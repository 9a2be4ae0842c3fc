import { artifactFileUrl, type ArtifactJson } from '../api.js';
import { formatBytes, formatDuration, formatTime, shortId } from '../format.js';
import { Link } from '../router.js';

/** One artifact and how it was made: the lineage of PRODUCT section 2, every field of it. */
export function ArtifactCard({ artifact }: { artifact: ArtifactJson }) {
  const { lineage } = artifact;
  const isImage = artifact.mime.startsWith('image/');
  return (
    <article className="artifact" data-testid="artifact" data-kind={artifact.kind}>
      <header>
        <b>{artifact.kind}</b> <code title={artifact.id}>{artifact.id}</code>{' '}
        {artifact.current && <span className="badge badge-current">current</span>}{' '}
        <span className="badge">{artifact.policy}</span>{' '}
        <span className="muted">
          {artifact.mime}, {formatBytes(artifact.size)}
        </span>{' '}
        <a href={artifactFileUrl(artifact.id)} target="_blank" rel="noreferrer">
          file
        </a>{' '}
        <a href={`/api/artifacts/${artifact.id}`} target="_blank" rel="noreferrer">
          json
        </a>
      </header>
      <div className="artifact-body">
        {isImage && (
          <img className="artifact-preview" src={artifactFileUrl(artifact.id)} alt={artifact.kind} />
        )}
        <dl className="lineage" data-testid="lineage">
          <dt>Run</dt>
          <dd>
            <Link href={`/runs/${lineage.runId}`} data-testid="lineage-run">
              {lineage.runId}
            </Link>
          </dd>
          <dt>Pipeline</dt>
          <dd data-testid="lineage-pipeline">{lineage.pipeline}</dd>
          <dt>Step</dt>
          <dd data-testid="lineage-step">{lineage.step}</dd>
          <dt>Decoder</dt>
          <dd data-testid="lineage-decoder">{lineage.decoder ?? 'not recorded'}</dd>
          <dt>Tool set</dt>
          <dd data-testid="lineage-tool">
            {lineage.tool.name} {lineage.tool.version}
          </dd>
          <dt>Params</dt>
          <dd>
            <code data-testid="lineage-params">{JSON.stringify(lineage.params)}</code>
          </dd>
          <dt>Made</dt>
          <dd title={lineage.createdAt}>{formatTime(lineage.createdAt)}</dd>
          <dt>Took</dt>
          <dd>{formatDuration(lineage.durationMs)}</dd>
          <dt>Inputs</dt>
          <dd>
            {lineage.inputs.map((input, i) => (
              <div key={i}>
                {input.artifactId ? (
                  <>
                    artifact <code>{input.artifactId}</code>
                  </>
                ) : (
                  <>
                    asset <code title={input.assetId}>{shortId(input.assetId)}</code>
                  </>
                )}{' '}
                <span className="muted">sha256 {shortId(input.sha256)}</span>
              </div>
            ))}
          </dd>
          <dt>By</dt>
          <dd>
            {lineage.worker} on {lineage.host}
          </dd>
          {artifact.promotedBy && (
            <>
              <dt>Promoted</dt>
              <dd data-testid="promoted-by">
                kept by production run <code>{artifact.promotedBy.runId}</code> on{' '}
                {formatTime(artifact.promotedBy.at)}
              </dd>
            </>
          )}
          {artifact.expiresAt && (
            <>
              <dt>Expires</dt>
              <dd>{formatTime(artifact.expiresAt)}</dd>
            </>
          )}
        </dl>
      </div>
    </article>
  );
}
