# A Sinatra app that answers with its instance id and logs every request as one JSON line, which
# the forwarder beside it ships to the central agent.
require "json"
require "time"
require "sinatra/base"

class App < Sinatra::Base
  INSTANCE = ENV.fetch("INSTANCE_ID", "sinatra")
  LOG = File.open(ENV.fetch("APP_LOG", "/var/log/sinatra/app.log"), "a")
  LOG.sync = true
  LOG_LOCK = Mutex.new

  set :logging, false

  after do
    line = JSON.generate(instance: INSTANCE, remote: request.ip, method: request.request_method,
                         path: request.path_info, status: response.status, time: Time.now.utc.iso8601(3))
    LOG_LOCK.synchronize { LOG.write(line + "\n") }
  end

  get "/" do
    content_type "text/plain"
    "#{INSTANCE}\n"
  end
end

run App
