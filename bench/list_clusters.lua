-- wrk script: one ECS ListClusters call per request, as the AWS CLI sends it.
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "AmazonEC2ContainerServiceV20141113.ListClusters"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"

done = function(summary, latency, requests)
  io.write(string.format("BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
