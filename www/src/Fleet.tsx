export function FleetPage() {
  return (
    <section className="panel" aria-labelledby="fleet-h">
      <h2 id="fleet-h">fleet-rlm</h2>
      <p>
        A view of fleet-rlm chat turns and execution graphs will live here, fed by the SDK's
        fleet-rlm support once it lands. This tab is reserved for it.
      </p>
    </section>
  );
}
