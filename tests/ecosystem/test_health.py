async def test_healthz_reports_database_and_inline_jobs(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "jobs": "inline"}
